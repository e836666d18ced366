"""The price-response rules' numbers: when a predicted price curve rises, or is flat.

Plain constants with no import, so asset and check descriptions can quote them while the code
location loads without numpy or pandas (`model.evaluation` and `pricing.curves` apply
them and re-export them).
"""

#: Price-response tolerance. A curve "rises" when, at some price, the prediction climbs back
#: above the lowest prediction at any lower price by more than
#: ABS_TOLERANCE + REL_TOLERANCE x the curve's peak. Why not zero: lightwood predicts whole
#: purchases (rounding: one purchase), and its tree mixers fit the data's own noise. In the
#: simulation the conversion factor U(0.16, 0.19) scatters purchases around their mean with a
#: standard deviation of 4.9 % at any price, and where the logistic demand is flat (well below
#: the base price) that scatter is all there is. So a rebound within one purchase plus 5 % of the
#: peak is indistinguishable from the data's noise; the price effect itself is 10-20x larger
#: (the curves fall by 85-95 % over a product's range). Measured: rebounds of 3-6 % of the peak
#: on a few of 60 curves for a model trained on 48 hours, 1-3 % on 30 days.
#: For an import's model (units per day) the same numbers read: a curve may rebound by 1 unit
#: per day plus 5 % of its peak before it counts as rising.
ABS_TOLERANCE = 1.0
REL_TOLERANCE = 0.05

#: A curve falls with the price when the units per day predicted at its lowest price exceed those
#: at its highest by more than FALL_MIN_UNITS and by more than FALL_MIN_SHARE of the former: a
#: flat curve (all zero, or one tree leaf at every price) or a rising one has no price to advise.
FALL_MIN_UNITS = 0.05
FALL_MIN_SHARE = 0.05
#: The `price_response` check of an import's model fails when a curve rises, or when more than
#: this share of the curves does not fall (most of the model's curves flat: no price response).
MAX_FLAT_SHARE = 0.5
