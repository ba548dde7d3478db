"""Features, labels, the six model types, calibration, the ensemble, metrics and prediction.

The only package that imports scikit-learn, xgboost and lightgbm, always inside functions so that
`status` and `catchup` never pay for them.
"""
