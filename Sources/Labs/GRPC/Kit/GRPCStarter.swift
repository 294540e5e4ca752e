import LabKit

/// What `lab init` writes for a phase-9 lab: a README (the task, how to run the checks, what
/// each asserts) and the contract, bookshelf.proto.
enum GRPCStarter {
    static func files(_ info: LabInfo, task: String, checks: [(String, String)], extra: String = "") -> [StarterFile] {
        let list = checks.map { "- **\($0.0)**: \($0.1)" }.joined(separator: "\n")
        let readme = """
            # \(info.title)

            \(task)

            The contract is `bookshelf.proto` (package `bookshelf.v1`, service `Bookshelf`). Generate your
            server's code from it, e.g. `protoc --cpp_out=. --grpc_out=. --plugin=protoc-gen-grpc=$(which grpc_cpp_plugin) bookshelf.proto`
            for C++, `python -m grpc_tools.protoc -I. --python_out=. --grpc_python_out=. bookshelf.proto` for Python, or the
            plugins of your language.

            ## Run the checks on your server

                curriculum lab run \(info.id) --url 127.0.0.1:50051          # a server you started
                curriculum lab run \(info.id) --against './my-server'        # the lab starts it with PORT set
            \(extra)
            Without a subject the lab judges its reference (`\(info.source)`), which shows one way to pass.

            ## What the checks assert

            \(list)

            """
        return [StarterFile("README.md", readme), StarterFile(BookshelfProto.fileName, BookshelfProto.text)]
    }
}
