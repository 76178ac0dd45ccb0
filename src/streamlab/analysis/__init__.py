"""What a watermark costs: sweeps, window comparisons, charts and the HTML report."""
