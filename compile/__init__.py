"""neurograph.compile: the network IR and the passes over it.

export (torch -> float IR) -> fold_scales -> quantize_network (fixed IR) -> save/load
artifact -> lower_to_lava. Each pass is a plain function from one network to the next.
"""
