// The bookshelf's gRPC service and a client of it, in C++17 with the code protoc and
// grpc_cpp_plugin generate from bookshelf.proto (the lab runs them, then compiles this with
// `pkg-config grpc++ protobuf`). One program, two roles:
//
//   bookshelf_grpc server              serves 127.0.0.1:$PORT until SIGTERM
//   bookshelf_grpc client HOST:PORT    holds grpc-codegen's conversation and prints it
//
// The client's transcript names ids by what they mean (A: the author it added, B1…B3: its
// books), so the lab can compare it line by line with what a correct server makes it print,
// whichever language the server is written in. LAB_BREAK=cpp-missing-ok in the environment
// breaks the server on purpose: an unknown book is answered OK with an empty book.
#include "bookshelf.grpc.pb.h"

#include <grpcpp/grpcpp.h>

#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace bs = bookshelf::v1;

namespace {

class Shelf final : public bs::Bookshelf::Service {
public:
    explicit Shelf(bool missingOK) : missingOK_(missingOK) {}

    grpc::Status AddAuthor(grpc::ServerContext*, const bs::AddAuthorRequest* request, bs::Author* author) override {
        std::lock_guard<std::mutex> lock(mutex_);
        author->set_id(nextAuthor_++);
        author->set_name(request->name());
        authors_[author->id()] = *author;
        return grpc::Status::OK;
    }

    grpc::Status AddBook(grpc::ServerContext*, const bs::AddBookRequest* request, bs::Book* book) override {
        std::lock_guard<std::mutex> lock(mutex_);
        if (authors_.count(request->author_id()) == 0) {
            return grpc::Status(grpc::StatusCode::NOT_FOUND, "no author " + std::to_string(request->author_id()));
        }
        book->set_id(nextBook_++);
        book->set_title(request->title());
        book->set_author_id(request->author_id());
        book->set_year(request->year());
        for (const auto& tag : request->tags()) book->add_tags(tag);
        book->set_price_cents(request->price_cents());
        books_[book->id()] = *book;
        order_.push_back(book->id());
        return grpc::Status::OK;
    }

    grpc::Status GetBook(grpc::ServerContext*, const bs::GetBookRequest* request, bs::Book* book) override {
        std::lock_guard<std::mutex> lock(mutex_);
        auto found = books_.find(request->id());
        if (found == books_.end()) {
            if (missingOK_) return grpc::Status::OK;
            return grpc::Status(grpc::StatusCode::NOT_FOUND, "no book " + std::to_string(request->id()));
        }
        *book = found->second;
        return grpc::Status::OK;
    }

    grpc::Status ListBooks(grpc::ServerContext*, const bs::ListBooksRequest* request, bs::ListBooksResponse* response) override {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto id : order_) {
            const auto& book = books_[id];
            if (book.author_id() == request->author_id()) *response->add_books() = book;
        }
        return grpc::Status::OK;
    }

private:
    bool missingOK_;
    std::mutex mutex_;
    std::int64_t nextAuthor_ = 1, nextBook_ = 1;
    std::map<std::int64_t, bs::Author> authors_;
    std::map<std::int64_t, bs::Book> books_;
    std::vector<std::int64_t> order_;
};

int serve() {
    const char* port = std::getenv("PORT");
    const char* fault = std::getenv("LAB_BREAK");
    if (port == nullptr) {
        std::cerr << "PORT is not set\n";
        return 2;
    }
    // SIGTERM is taken by a thread of ours (sigwait), which shuts the server down cleanly;
    // blocked before gRPC starts its threads, so they inherit the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    Shelf shelf(fault != nullptr && std::string(fault) == "cpp-missing-ok");
    grpc::ServerBuilder builder;
    int bound = 0;
    builder.AddListeningPort(std::string("127.0.0.1:") + port, grpc::InsecureServerCredentials(), &bound);
    builder.RegisterService(&shelf);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (!server || bound == 0) {
        std::cerr << "could not listen on 127.0.0.1:" << port << "\n";
        return 1;
    }
    std::cout << "listening on 127.0.0.1:" << bound << std::endl;
    std::thread stopper([&] {
        int received = 0;
        sigwait(&signals, &received);
        server->Shutdown();
    });
    server->Wait();
    stopper.join();
    return 0;
}

// The conversation (the same as the Swift client's, GRPCCodegen.swift).
struct NewBook {
    const char* title;
    int year;
    std::vector<std::string> tags;
    std::int64_t price;
};

const char* const kAuthor = "Ursula K. Le Guin";
const std::vector<NewBook> kBooks = {
    {"The Dispossessed", 1974, {"anarchy", "physics"}, 1299},
    {"A Wizard of Earthsea", 1968, {"magic"}, 999},
    {"Changing Planes \xE2\x9C\x88", 2003, {}, 1450},
};
const std::int64_t kMissing = 9000000000001LL;

std::string label(std::int64_t id, const std::vector<std::int64_t>& ids) {
    for (size_t i = 0; i < ids.size(); ++i)
        if (ids[i] == id && id > 0) return "B" + std::to_string(i + 1);
    return "id=" + std::to_string(id);
}

std::string describe(const bs::Book& book, std::int64_t author) {
    std::ostringstream out;
    out << "title=" << book.title() << " author=" << (book.author_id() == author ? std::string("A") : std::to_string(book.author_id()))
        << " year=" << book.year() << " tags=";
    for (int i = 0; i < book.tags_size(); ++i) out << (i ? "," : "") << book.tags(i);
    out << " price=" << book.price_cents();
    return out.str();
}

int client(const std::string& target) {
    auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
    // Connecting gets its own, longer limit, so that a loaded machine's slow start-up is
    // not mistaken for a slow call; each call then has 10 s.
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30))) {
        std::cout << "connect error: no connection to " << target << " within 30 s" << std::endl;
        return 0;
    }
    auto stub = bs::Bookshelf::NewStub(channel);
    auto deadline = [] {
        auto context = std::make_unique<grpc::ClientContext>();
        context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        return context;
    };
    bs::AddAuthorRequest addAuthor;
    addAuthor.set_name(kAuthor);
    bs::Author author;
    auto status = stub->AddAuthor(deadline().get(), addAuthor, &author);
    if (!status.ok()) {
        std::cout << "author error status=" << status.error_code() << std::endl;
        return 0;
    }
    std::cout << "author name=" << author.name() << " id=" << (author.id() > 0 ? std::string("ok") : std::to_string(author.id())) << "\n";

    std::vector<std::int64_t> ids;
    for (size_t i = 0; i < kBooks.size(); ++i) {
        bs::AddBookRequest request;
        request.set_title(kBooks[i].title);
        request.set_author_id(author.id());
        request.set_year(kBooks[i].year);
        for (const auto& tag : kBooks[i].tags) request.add_tags(tag);
        request.set_price_cents(kBooks[i].price);
        bs::Book book;
        status = stub->AddBook(deadline().get(), request, &book);
        ids.push_back(status.ok() ? book.id() : 0);
        if (!status.ok()) {
            std::cout << "added B" << i + 1 << " error status=" << status.error_code() << "\n";
        } else {
            std::cout << "added " << label(book.id(), ids) << " " << describe(book, author.id()) << "\n";
        }
    }
    for (size_t i = 0; i < ids.size(); ++i) {
        bs::GetBookRequest request;
        request.set_id(ids[i]);
        bs::Book book;
        status = stub->GetBook(deadline().get(), request, &book);
        if (!status.ok()) {
            std::cout << "got B" << i + 1 << " error status=" << status.error_code() << "\n";
        } else {
            std::cout << "got " << label(book.id(), ids) << " " << describe(book, author.id()) << "\n";
        }
    }
    bs::ListBooksRequest list;
    list.set_author_id(author.id());
    bs::ListBooksResponse listed;
    status = stub->ListBooks(deadline().get(), list, &listed);
    if (!status.ok()) {
        std::cout << "list A error status=" << status.error_code() << "\n";
    } else {
        std::cout << "list A:";
        for (int i = 0; i < listed.books_size(); ++i) std::cout << (i ? "," : " ") << label(listed.books(i).id(), ids);
        std::cout << "\n";
    }
    bs::GetBookRequest missing;
    missing.set_id(kMissing);
    bs::Book none;
    status = stub->GetBook(deadline().get(), missing, &none);
    std::cout << "missing status=" << status.error_code() << std::endl;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && std::string(argv[1]) == "server") return serve();
    if (argc >= 3 && std::string(argv[1]) == "client") return client(argv[2]);
    std::cerr << "usage: " << argv[0] << " server | client HOST:PORT\n";
    return 2;
}
