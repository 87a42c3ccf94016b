"""dl-lab's command line: `dl-lab run`, `validate`, `gradcheck`, `runs`, `replay`, `compare`, `export`, `datasets`."""
