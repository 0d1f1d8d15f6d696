"""Generated from proto/: the stories.v1 contract."""
