"""The attention explorer (``attnkit explore RUN ...``): every run's attention, interactive,
in the browser, offline.

``runs`` loads the run directories named on the command line (once each, one forward at a
time per model); ``views`` computes what the page shows as JSON (attention maps, next-token
and fill-mask candidates, translation steps, image attention); ``worked`` recomputes one
head's attention for one query from the model's own projections (the notes' worked
example); ``app`` serves them as a JSON API (``/api/...``) beside the page in ``static/``
(hand-written JS and CSS, no CDN); ``export`` writes the page and its data into one HTML
file that opens from disk. The load benchmark is ``benchmarks/explorer_load.py``.
"""
