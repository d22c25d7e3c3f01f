"""`meshc graph`: a picture of each service's routing."""
