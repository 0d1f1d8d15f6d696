"""The domain core of `stories`: jobs, segments, assets, markup, ports and use cases.

Pure Python: nothing here imports an adapter, a plugin or an I/O library.
"""
