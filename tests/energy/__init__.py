"""Energy and carbon accounting: the power model, attribution to jobs, carbon-aware placement and its views."""
