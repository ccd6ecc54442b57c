"""``matloop report``: a campaign seen as one HTML page of plots and tables, from its store.

``report.write_report`` gathers the data once and builds one section per module:
``progress``, ``target_space``, ``candidate_space``, ``model_quality``, ``relevance`` and
``tables``; ``page`` renders them, ``figures`` holds what every figure shares.
"""
