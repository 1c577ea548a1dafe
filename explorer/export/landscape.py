"""The landscape part of the HTML export (issue 16): a session's landscape results drawn by
the landscape page's own HoloViews views (:mod:`explorer.landscape.views`), rendered to static
Bokeh models, so the file shows the same figures as the page: per cell the loss contour and
gradient-std map with linked axes, convergence curves, width/depth scatters and the study
table; and the last "landscape of this network now".
"""

from __future__ import annotations


def landscape_figures(landscape: dict) -> list[tuple[str, object]]:
    """(heading, HoloViews object) for every landscape figure the results can draw."""
    from explorer.landscape import views

    out: list[tuple[str, object]] = []
    study = landscape.get("study")
    if study is not None:
        for heading, make in (
            (
                "cell study: loss contours and gradient std (Shu et al. 2020, sec. 4.2)",
                views.surfaces,
            ),
            ("cell study: convergence (sec. 4.1)", views.curves),
            (
                "cell study: width and depth against convergence and accuracy (sec. 5)",
                views.scatter,
            ),
            ("cell study: table (means over seeds)", views.table),
        ):
            obj = make(study)
            if obj is not None:
                out.append((heading, obj))
    network = landscape.get("network")
    if network is not None:
        out.append(("landscape of this network (when it was measured)", views.network_now(network)))
    return out


def landscape_models(landscape: dict) -> list:
    """Bokeh models of :func:`landscape_figures` (a heading above each), for a file page."""
    import holoviews as hv
    from bokeh.models import Div

    models: list = []
    figures = landscape_figures(landscape)
    if figures:
        models.append(Div(text="<h2>landscape</h2>", name="landscape"))
    for heading, obj in figures:
        models.append(Div(text=f"<h3>{heading}</h3>"))
        models.append(hv.render(obj, backend="bokeh"))
    return models
