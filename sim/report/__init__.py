"""The one-page HTML report of a run: what to do, how sure, why, and how to reproduce it.

:mod:`splitsim.report.content` gathers what a report says from a run's results (the
numbers come from :mod:`splitsim.results.summary`, the figures from
:mod:`splitsim.plots`), :mod:`splitsim.report.assumptions` reads each assumption's
source from the scenario files' comments, :mod:`splitsim.report.render` fills the Jinja2
templates in ``templates/`` (autoescaped) into one self-contained file.
"""
