// Labs see the catalogue and protocol types (LabInfo, LabReport, LabEvent) through the kit.
@_exported import LabCatalog
