"""``python -m xr_tiles``: the ``xr-tiles`` command line."""

from .cli import main

if __name__ == "__main__":
    main()
