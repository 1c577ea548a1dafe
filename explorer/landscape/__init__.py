"""The landscape study in the explorer (Shu, Wang & Cai 2020): headless study, background
worker with progress and cancel (optionally on Dask), HoloViews views, the page."""
