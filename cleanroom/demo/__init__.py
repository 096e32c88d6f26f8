"""The end-to-end demo: a seeded synthetic retailer and advertiser, driven through the real API."""
