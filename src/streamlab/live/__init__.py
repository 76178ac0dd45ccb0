"""Live runs and the dashboard: events landing in real time, and the watermark at work.

- :mod:`streamlab.live.settings`: how often batches land, how many events, the lab's clock scaled;
- :mod:`streamlab.live.feed`: the generator loop that lands batches as time goes by;
- :mod:`streamlab.live.collect`: the dashboard's state (``GET /api/state``), read from disk;
- :mod:`streamlab.live.server`: the page, its JSON and Server-Sent Events, on 127.0.0.1.
"""
