"""`make bench`: the API, against rembg.remove() in-process (the ceiling) and `rembg s` (the peer).

Everything runs on this machine in one go, so the ratios compare like with like. Every load
loop is bounded by time and by count. Results: a table on stdout, .bench/results.json, and
.bench/chart.png. The parts: common (cases, load loops, the photos), segment (the segment
stage alone, in process), api (this API on a private stack), peers (rembg.remove() and
`rembg s`), report (table, ratios, chart); __main__ runs them in order.
"""
