"""Blob stores: a local folder embedded, MinIO/S3 in production."""
