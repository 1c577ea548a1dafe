"""`panel serve apps/explorer.py`: the live explorer, one trainer per browser session."""
from explorer.app import ExplorerApp

ExplorerApp().servable(title="Sizing Explorer")
