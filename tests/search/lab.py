"""A laboratory ready for identification: users, a sample with an FTIR spectrum, libraries."""

from lims.db import db
from lims.library.demo import (
    ir_library_file,
    jcamp_ir_block,
    ms_library_file,
    noisy_cocaine_absorbance,
)


def identification_lab(app, make_user, make_case, make_samples) -> dict:
    """Seed a technician, a chemist, one sample with a cocaine-like FTIR spectrum, two libraries."""
    from lims.library.services import import_library
    from lims.measurements.services import import_file

    tech = make_user("technician", username="tanya")
    chem = make_user("chemist", username="dimitar", full_name="Dimitar Ivanov")
    sample = make_samples(tech, make_case(tech))[0]
    spectrum_file = jcamp_ir_block("seized powder", noisy_cocaine_absorbance(), {}).encode()
    with app.app_context():
        actor = db.session.merge(chem)
        ir = import_library(actor, ir_library_file(), "ir.jdx", name="Demo IR", version="1")
        ms = import_library(actor, ms_library_file(), "ms.msp", name="Demo MS", version="1")
        measurement = import_file(actor, db.session.merge(sample), spectrum_file, "ftir.jdx",
                                  None, None)
        db.session.commit()
        ids = {"ir": ir.id, "ms": ms.id, "spectrum": measurement.spectra[0].id}
    return {**ids, "tech": tech, "chem": chem, "sample": sample,
            "spectrum_file": spectrum_file}
