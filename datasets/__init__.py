"""dl-lab's datasets: generated, built-in, downloaded and CSV data, loaded as host NumPy arrays.

    from dl_lab.datasets import load, list_datasets
    ds = load("spiral", samples=1000, noise=0.1, seed=7, normalize="standard")
    for x, y in ds.batches("train", 32, shuffle=True, rng=np.random.default_rng(7)): ...

Importing this package loads no data and imports neither network nor UI modules.
"""

from .dataset import Dataset
from .download import MIRRORS, SHA256, cache_dir, download
from .errors import DataError
from .features import FEATURES, make_features
from .normalization import apply_normalization, fit_normalization
from .registry import DATASETS, DatasetInfo, DatasetRow, list_datasets, load, load_config

__all__ = [
    "DATASETS",
    "FEATURES",
    "MIRRORS",
    "SHA256",
    "DataError",
    "Dataset",
    "DatasetInfo",
    "DatasetRow",
    "apply_normalization",
    "cache_dir",
    "download",
    "fit_normalization",
    "list_datasets",
    "load",
    "load_config",
    "make_features",
]
