"""Batch compression, decompression and benchmarking of a corpus on a Dask cluster.

    inputs.py         INPUT arguments (files, folders, lists) -> jobs with their output paths
    verify.py         is an output complete (header, CRCs, END packet) and what this batch writes?
    resume.py         which jobs a run still has to do; the rest are skipped or refused
    worker_codec.py   the model, loaded once per worker process; torch threads per worker
    tasks.py          one file on one worker: compress, decompress, bench -> FileResult
    engine.py         the cluster (local or joined) and the loop that feeds it files
    manifest.py       the JSON record of every input
    corpus_report.py  a benchmarked corpus: BD-rate per clip and pooled

`vqcodec batch` (cli/batch_command.py) drives it; README, "Batch", says why Dask.
"""
