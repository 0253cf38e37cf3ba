"""The gateway's HTTP routes, one module per area; each builds an APIRouter from its backends."""
