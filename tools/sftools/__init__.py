"""Support code of the scripts in ``tools/``: benchmarks, the PySlowFast comparison, the demo,
the small-scale reproduction and training-curve plots.

It sits beside the scripts, not inside the ``slowfast`` library, which never imports it; a script
in ``tools/`` imports it as ``sftools.<module>`` (its folder is ``sys.path[0]``).
"""
