"""Synthetic 360-degree customer views with a latent propensity to convert."""

from __future__ import annotations

import numpy as np

from predictive.models.conversion import Customer360

DISPOSITIONS = ("callback", "interested", "not_interested", "wrong_number", "voicemail")
TAGS = ("vip", "price_sensitive", "churn_risk", "newsletter", "complaint", "b2b")


def generate_customers(n: int, seed: int = 0, with_intent: float = 0.6
                       ) -> tuple[list[Customer360], np.ndarray]:
    """``n`` customers and their true P(convert)."""
    rng = np.random.default_rng(seed)
    out, probs = [], []
    for i in range(n):
        latent = rng.normal()
        calls = int(rng.integers(1, 12))
        connects = int(rng.binomial(calls, 0.35))
        talk = float(rng.lognormal(4.5 + 0.3 * latent, 0.6) * connects)
        disp = {d: int(rng.poisson(0.4)) for d in DISPOSITIONS}
        disp["interested"] = int(rng.poisson(max(0.05, 0.4 + 0.3 * latent)))
        tags = frozenset(t for t in TAGS if rng.random() < (0.25 if t != "vip" else 0.08))
        purchases = int(rng.poisson(np.exp(0.3 * latent)))
        intent = float(np.clip(0.5 + 0.2 * latent + rng.normal(0, 0.1), 0, 1))
        z = (-2.2 + 0.9 * latent + 0.25 * purchases + 0.8 * ("vip" in tags)
             - 0.7 * ("churn_risk" in tags) - 0.5 * disp["not_interested"])
        p = 1 / (1 + np.exp(-z))
        out.append(Customer360(
            customer_id=f"c{i}", calls=calls, connects=connects, total_talk_s=talk,
            last_talk_s=talk / connects if connects else 0.0,
            days_since_last_contact=float(rng.exponential(20)), dispositions=disp, tags=tags,
            purchases=purchases, purchase_value=float(purchases * rng.lognormal(4, 0.5)),
            intent_score=intent if rng.random() < with_intent else None,
            converted=bool(rng.random() < p),
        ))
        probs.append(p)
    return out, np.array(probs)
