"""Global sensitivity of the decision to the uncertain assumptions, and scenario discovery.

Named as the method names its parts (as EMA Workbench does): :mod:`.samplers` (SALib's
Morris and Sobol' designs in the unit hypercube), :mod:`.design` (the points as
assumption values, through each key's distribution, plus the tornado's points),
:mod:`.outcomes` (what the simulation recommends at each point), :mod:`.analysis`
(SALib's indices with confidence intervals), :mod:`.discovery` (where a retention-heavy
split wins), :mod:`.report` and :mod:`.plots` (tables and figures, no I/O) and
:mod:`.pipeline` (a sensitivity run on disk, through the sweep runner).
"""
