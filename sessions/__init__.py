"""Example sessions walking through the course; `dl-lab new NAME` copies one."""
