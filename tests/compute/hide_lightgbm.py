"""`dask worker --preload` this file to get a worker on which lightgbm cannot be imported."""

import sys


class _Hidden:
    def find_spec(self, name, path=None, target=None):
        if name == "lightgbm" or name.startswith("lightgbm."):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return None


for _name in [m for m in sys.modules if m == "lightgbm" or m.startswith("lightgbm.")]:
    del sys.modules[_name]
sys.meta_path.insert(0, _Hidden())
