"""The JSON Schemas meshc validates its output and IR with, shipped as `meshc.schemas_data`."""
