"""Synthetic CRM histories, written to the CRM's own tables: the answer model's
(:mod:`crm.synth.answers`) and the conversion model's (:mod:`crm.synth.conversion`). The tests
and ``bench/`` train and measure the models on them."""
