"""Renderers of run results: the plan (text, JSON) and the compliance report (json, junit, sarif, html,
markdown) of one report model (`reconciler.report.model`)."""
