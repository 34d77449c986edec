"""Visual stimuli on the hexagonal photoreceptor lattice: luminance per column.

The simulator gives all eight photoreceptors R1–R8 of a column that column's
luminance (0 to every other neuron); this module only produces the luminance,
one value in [0, 1] per column and frame.

Kinds (``StimulusSpec.kind``):

``natural``
    Saccadic natural-image movies (docs/design.md, section 5). Greyscale photographs bundled inside
    installed packages (scikit-image, scikit-learn, matplotlib; never downloaded)
    are seen through flyvis' BoxEye: a 13×13 px box mean at every column centre,
    centres 13 px apart. Each 80-frame sequence picks an image, one of 8 hexagonal
    variants, a zoom, and moves the gaze with a slow AR(1) drift plus saccades.
    Train and test sequences come from disjoint source images.
``flashes``
    Full-field steps: grey (0.5) pauses alternating with ON (1) or OFF (0) flashes.
``gratings``
    Drifting sine gratings drawn on the lattice (direction, period, speed per sequence).
``edges``
    Moving ON or OFF edges sweeping over a grey field (direction, speed per sequence).
``mixed``
    Each sequence is, drawn at random with equal chances, the next sequence of the
    ``flashes``, ``gratings`` or ``edges`` stimulus of the same seed: full-field steps for
    ON/OFF responses, and motion in 12 directions at many speeds and periods, in one
    procedural movie that spans more of the cell types' inputs than any one of them.

Everything is deterministic for ``(spec, split)``: sequence ``k`` of a split draws its
parameters from its own random stream seeded by ``(seed, split, k)``, so a movie does
not depend on the chunk size and a shorter movie is a prefix of a longer one.

The modules, lowest first (each imports only from those above it in this list):

``images``
    The bundled natural images: where they are, reading them, the train/test split.
``spec``
    ``StimulusSpec``, the kinds and splits, and each sequence's random stream.
``eye``
    The hexagonal lattice's geometry and flyvis' BoxEye sampling of an image.
``natural``
    The ``natural`` kind: saccade and drift plans, and their BoxEye movies.
``procedural``
    The ``flashes``, ``gratings``, ``edges`` and ``mixed`` kinds.
``movie``
    ``stimulus_frames`` and ``stimulus_movie``: a spec's sequences in chunks of frames.
"""

from flygnn.stimulus.eye import box_eye_offsets, hex_variant, lattice_positions, sample_hex_image
from flygnn.stimulus.images import (
    NATURAL_IMAGE_FILES,
    NORMALISATION_PERCENTILES,
    natural_image_sources,
    natural_images,
    split_images,
)
from flygnn.stimulus.movie import stimulus_frames, stimulus_movie
from flygnn.stimulus.natural import SaccadeSequence, plan_saccade_sequence
from flygnn.stimulus.procedural import GREY
from flygnn.stimulus.spec import KINDS, MIXED_KINDS, SPLITS, StimulusSpec

__all__ = [
    "GREY",
    "KINDS",
    "MIXED_KINDS",
    "NATURAL_IMAGE_FILES",
    "NORMALISATION_PERCENTILES",
    "SPLITS",
    "SaccadeSequence",
    "StimulusSpec",
    "box_eye_offsets",
    "hex_variant",
    "lattice_positions",
    "natural_image_sources",
    "natural_images",
    "plan_saccade_sequence",
    "sample_hex_image",
    "split_images",
    "stimulus_frames",
    "stimulus_movie",
]
