"""Model families: networks (flax modules) and the models that train them."""
