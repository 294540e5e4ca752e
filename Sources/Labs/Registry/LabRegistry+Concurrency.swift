import LabKit

extension LabRegistry {
    static let concurrency: [any Lab.Type] = [
        CoroutinesLab.self,
        ThreadPoolsLab.self,
        CoroutinesVsThreadsLab.self,
        SharedResourcesLab.self,
        ConcurrentServicesLab.self,
    ]
}
