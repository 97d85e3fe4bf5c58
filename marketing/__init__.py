"""Campaigns as marketers run them, above the customer store and the product index.

`composing` (what a recipient reads, the product recommended to them), `rules` (the frequency
cap and quiet hours), `delivering` (the one loop that queues a campaign's messages),
`sending` (send now or when scheduled), `matching` and `triggered` (new products announced
to the customers whose interests match), `scheduler` (the sweep the gateway runs). Storage —
creating campaigns, delivery rows, the report — stays in `crm_store.services.campaigns`.
"""
