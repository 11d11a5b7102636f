"""The designed policy as a document (``document``) and as a runtime (``runtime``)."""
