"""The ``.tiles`` accessor on DataArray and Dataset: a forwarder to :func:`to_vrt`."""

from __future__ import annotations

import os
import pathlib
from typing import Literal, Unpack, overload

import xarray as xr
from dask.delayed import Delayed

from .keywords import WriteKeywords
from .write import to_vrt


@xr.register_dataarray_accessor("tiles")
@xr.register_dataset_accessor("tiles")
class TilesAccessor:
    """Write a raster as a GDAL VRT mosaic of tiled GeoTIFFs, one per chunk."""

    def __init__(self, obj: xr.DataArray | xr.Dataset) -> None:
        self._obj = obj

    @overload
    def to_vrt(
        self, path: str | os.PathLike[str], *, compute: Literal[True] = ...,
        **options: Unpack[WriteKeywords],
    ) -> pathlib.Path | str: ...

    @overload
    def to_vrt(
        self, path: str | os.PathLike[str], *, compute: Literal[False],
        **options: Unpack[WriteKeywords],
    ) -> Delayed: ...

    @overload
    def to_vrt(
        self, path: str | os.PathLike[str], *, compute: bool = ...,
        **options: Unpack[WriteKeywords],
    ) -> pathlib.Path | str | Delayed: ...

    def to_vrt(
        self, path: str | os.PathLike[str], *, compute: bool = True,
        **options: Unpack[WriteKeywords],
    ) -> pathlib.Path | str | Delayed:
        """Write every chunk as its own tiled GeoTIFF and a GDAL VRT that mosaics them.

        The tiles go to ``<stem>_tiles/`` beside the VRT, one file per (y, x) chunk, all
        written in parallel by dask. Read back through GDAL, the VRT gives the input bit
        for bit (lossless codecs) with its transform, CRS, nodata, dtype and band names.
        A DataArray may be ``(y, x)`` or ``(band, y, x)``; a Dataset gives one band per
        variable (a 3-D variable several), in variable order.

        Parameters
        ----------
        path : str or os.PathLike
            The VRT to write; must end in ``.vrt``. A local path, or any fsspec URL
            (``s3://bucket/dem/dem.vrt``); ``xr_tiles.gdal_path`` gives the name GDAL
            reads it by (``/vsis3/bucket/dem/dem.vrt``).
        codec : {"zstd", "deflate", "lzw", "lzma", "packbits", "lerc", "jpeg", "webp", "none"}
            Compression of every tile (case-insensitive); default "zstd". jpeg and webp
            hold uint8 only, jpeg 1 or 3 bands, webp 3 or 4. With ``mode="r+"``, this and
            every other tile option (``level``, ``predictor``, ``blocksize``,
            ``overviews``, ``resampling``, ``index``, ``stac``) defaults to the mosaic's
            own, and one given differently is refused.
        level : int or float, optional
            Codec level: deflate 1-9, zstd 1-22, lzma 0-9, jpeg/webp quality 1-100 (webp
            without a level is lossless), lerc maximum error (0: lossless).
        predictor : {None, False, 1, 2, 3}
            TIFF predictor. None picks 2 (horizontal) for integers and 3 (floating point)
            for floats with deflate, zstd, lzw and lzma; False or 1 turns it off.
        scheduler : str, distributed.Client or callable, optional
            The dask scheduler. Default: dask's configured scheduler (so
            ``DASK_SCHEDULER`` and an active distributed Client apply), else threads.
        num_workers : int, optional
            Worker count for the local threaded or process schedulers.
        chunks : int, (int, int) or dict, optional
            Rechunk y/x before writing: each chunk is one tile file. numpy-backed data
            without ``chunks`` is cut into 1024 x 1024 tiles; dask data keeps its chunks.
        blocksize : int, optional
            Internal TIFF tile size in each file, a multiple of 16; default 256.
        nodata : int or float, optional
            Nodata value; default ``.rio.nodata``, then ``.rio.encoded_nodata``. NaN in
            float data is written as a numeric nodata.
        crs : optional
            CRS override (anything rasterio's ``CRS.from_user_input`` takes); default
            ``.rio.crs``.
        mode : {"w-", "w", "r+"}, default "w-"
            "w-" refuses an existing VRT; "w" replaces the whole output; "r+" updates a
            region of an existing xr_tiles mosaic (see ``region``), rewriting only the
            tiles in it.
        region : "auto" or dict of slice, optional
            With ``mode="r+"``: where ``obj`` goes in the mosaic, as xarray's ``to_zarr``
            takes it: ``{"y": slice(i0, i1), "x": slice(j0, j1)}``, integer pixels of the
            mosaic, on tile boundaries (the last row and column of tiles may be ragged);
            "auto" finds them from ``obj``'s coordinates; None is the whole mosaic. ``obj``
            must be on the mosaic's grid, with its CRS, band count, dtypes, nodata, scale
            and offset; anything else is refused before any byte is written. The mosaic
            keeps its own band descriptions, units, colours and metadata.
        resume : bool, default False
            Continue a write that was killed or failed, with the same input (its dask
            token) and options: only the tiles it did not finish are written, and the
            output is the one an uninterrupted write gives. Refused when the interrupted
            write was of another input or other options; with nothing to resume, writes
            it all, and with it already published, only tidies up.
        skip_empty : bool, default False
            Neither write nor list a tile whose block is nodata only (NaN counts as nodata
            in float data); GDAL reads nodata there, and the VRT keeps the full extent.
            Needs a nodata value. How many tiles were skipped is logged (logger
            ``xr_tiles``, level INFO).
        overviews : {None, "auto"} or list of int, optional
            Overview levels, written into every tile (each a Cloud Optimized GeoTIFF) and
            listed on the VRT, so that GDAL reads reduced resolutions from them: factors,
            distinct powers of two (e.g. ``[2, 4, 8, 16]``), or "auto", which halves
            until the whole raster fits in one ``blocksize`` block. Computed from the
            block in memory, in the same pass. Levels match a downsample of the whole
            raster exactly where chunk sizes are multiples of the factor (otherwise a
            warning says which factors do not).
        resampling : {"nearest", "average", "mode", "min", "max"}, optional
            How an overview pixel is made from its window (GDAL's names, any case, or
            rasterio's ``Resampling``; ignored without overviews): "nearest" takes the
            window's centre pixel, as GDAL's reads at reduced resolution do; the others
            leave nodata and NaN out (a window of nodata only gives nodata). "mode" is for
            classes, not float data. Default "nearest".
        durable : bool, default True
            Flush the tiles to disk (one ``syncfs`` of the filesystem, or an ``fsync`` per
            file written by a distributed worker) before the VRT names them, so that a
            power cut never leaves a VRT naming bytes that never reached the disk. False
            skips it, for scratch output. Object stores: a PUT is durable already.
        index : {None, "gti"}, optional
            "gti" also writes GDAL's tile index of the tiles, ``<stem>.gti.gpkg`` beside
            the VRT (a GeoPackage: one footprint and location a tile, the overview levels
            as layers), which GDAL >= 3.9 opens in milliseconds at any tile count and
            reads as the VRT. Needs one dtype for all bands and a north-up grid with a CRS.
        stac : bool, optional
            Also write a static STAC Collection, ``<stem>_stac/collection.json``, with one
            Item a tile, ``<stem>_tiles/<write id>/r<row>_c<col>.json`` beside the tile's
            file (projection, raster and file extensions; footprints in WGS84), which
            ``odc.stac.load`` and ``stackstac`` load back; the VRT is an asset of the
            Collection. Items' time: the data's ``time`` coordinate, else the write's.
            Default False.
        storage_options : dict, optional
            Options for the fsspec filesystem of a URL ``path`` (``s3://``, ``gs://``,
            ``az://``, ``memory://``), as xarray's ``to_zarr`` takes them: credentials,
            ``endpoint_url``, ... Not for local paths.
        progress : bool, default False
            Show a progress bar of the tiles written, in the style of dask's
            ``ProgressBar``, on any scheduler. Only with ``compute=True``.
        compute : bool, default True
            False returns a ``dask.delayed.Delayed``: computing it writes and returns the path.

        Returns
        -------
        pathlib.Path, str or dask.delayed.Delayed
            The absolute path of the VRT (its URL for a URL ``path``), or the Delayed that
            writes it.

        Raises
        ------
        WriteConflictError
            Another write to the same path runs (it is named), or published since this
            one began.
        OutputExistsError
            ``mode="w-"`` and the VRT exists.
        InvalidMosaicError, RegionMismatchError
            ``mode="r+"`` on a VRT xr_tiles cannot update, or with data that does not fit.

        Notes
        -----
        bool data is stored as uint8 and float16 as float32. Every write puts its tiles
        in a folder of its own, ``<stem>_tiles/<write id>/``, and publishes the VRT last,
        in one atomic step: at every instant a reader finds the complete old output or
        the complete new one, whatever stops the write (the tile index and collection
        are published right after the VRT, each in one step). Above 4,096 tiles the VRT
        is nested: a VRT of sub-VRTs of 32 x 32 tiles each, which GDAL opens in
        constant time. A failed write keeps the tiles it
        finished (its error says how many) for ``resume=True``.

        Examples
        --------
        >>> import xr_tiles
        >>> dem.tiles.to_vrt("dem.vrt", codec="zstd")  # doctest: +SKIP
        PosixPath('/data/dem.vrt')
        >>> dem.tiles.to_vrt("dem.vrt", overviews="auto", resampling="average")  # doctest: +SKIP
        PosixPath('/data/dem.vrt')
        >>> patch.tiles.to_vrt("dem.vrt", mode="r+", region="auto")  # doctest: +SKIP
        PosixPath('/data/dem.vrt')
        """
        return to_vrt(self._obj, path, compute=compute, **options)
