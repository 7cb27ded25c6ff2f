//! Classes of defect, each a self-contained piece: the requests that exercise it (built from a
//! request known to be valid, or one known to be refused, so that none costs a unit of quota
//! but where the class is about creating pairs) and pure verdicts over the answers.
pub mod equivalent;
pub mod hygiene;
pub mod ids;
pub mod methods;
pub mod robust;
pub mod wire;
