"""How many impressions get their NULL row from the left outer join by the end?"""

from datetime import timedelta


def answer(impressions, clicks):
    # The join's watermark is the minimum of both inputs' (max event time - 10 minutes),
    # after each batch; impressions (first) and clicks (second) land as separate batches.
    delay = window = timedelta(minutes=10)
    clicked = set()
    imp_time = {}
    latest = {"impressions": None, "clicks": None}
    watermark = None
    nulls = 0
    open_ = {}
    steps = []
    for imps, cls in zip(impressions, clicks, strict=True):
        steps.append(("impressions", imps))
        steps.append(("clicks", cls))
    for name, rows in steps:
        for r in rows:
            t = r["impression_time" if name == "impressions" else "click_time"]
            if watermark is not None and t <= watermark:
                continue  # late for the join's state
            if name == "impressions":
                imp_time[r["impression_id"]] = t
                open_[r["impression_id"]] = t
            else:
                it = imp_time.get(r["impression_id"])
                if it is not None and it <= t <= it + window:
                    clicked.add(r["impression_id"])
        times = [r["impression_time" if name == "impressions" else "click_time"] for r in rows]
        if times:
            cand = max(times) - delay
            latest[name] = cand if latest[name] is None else max(latest[name], cand)
        if all(v is not None for v in latest.values()):
            watermark = min(latest.values())
        if watermark is not None:
            # An impression is done when no click in range can still arrive: its time plus
            # the click window is behind the watermark.
            for iid, t in list(open_.items()):
                if t + window < watermark:
                    if iid not in clicked:
                        nulls += 1
                    del open_[iid]
    return nulls
