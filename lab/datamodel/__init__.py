"""The HNB's TR-069 parameter tree: definitions (`schema`, data in hnb_params.yaml), the
live tree (`tree.DataModel`) and the CM configuration file (`cmfile`)."""

from lab.datamodel.schema import ParamDef, Schema, SchemaError, default_schema
from lab.datamodel.tree import DataModel, DataModelError

__all__ = ["DataModel", "DataModelError", "ParamDef", "Schema", "SchemaError", "default_schema"]
