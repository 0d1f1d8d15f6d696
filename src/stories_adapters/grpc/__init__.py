"""The gRPC API: the contract for clients in any language (proto/stories/v1)."""
