"""The demo shop's features: user profiles and catalog prices, defined once.

Copied into the demo project by ``conveyor demo``; ``conveyor features apply`` records
these definitions, training reads them point-in-time (``conveyor.load_features`` in
``pipelines.py``), and the prediction server looks them up online by ``user_id`` and
``product_category``, so a request sends only what the shop knows at the moment.
"""

from conveyor.features import Entity, FeatureService, FeatureView

user = Entity("user", join_keys=["user_id"], description="A shopper.")
category = Entity("category", join_keys=["product_category"], description="A product category.")

user_profile = FeatureView(
    "user_profile",
    entities=[user],
    source="users@latest",
    schema={"user_segment": "string", "past_purchases": "int64"},
    description="Each user's segment and purchases so far, snapshotted every season.",
)
category_catalog = FeatureView(
    "category_catalog",
    entities=[category],
    source="catalog@latest",
    schema={"list_price": "float64"},
    description="The catalog's list price of each category.",
)
recommender = FeatureService(
    "recommender",
    [user_profile, category_catalog],
    description="What the recommender looks up for a session.",
)
