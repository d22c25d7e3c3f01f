"""One module per `meshc` subcommand, each exposing `command`."""
