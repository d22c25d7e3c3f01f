"""The .mesh grammar, shipped inside the meshc package as `meshc.grammar`."""
