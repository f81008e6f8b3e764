"""attnkit against the tools users would pick instead, measured side by side (``make bench``)."""
