#pragma once
// Test certificates made at run time with the OpenSSL 3 C API: a throw-away certificate authority,
// server certificates it signs (with chosen subject alternative names and validity window, so
// wrong-host and expired certificates can be made on purpose), and self-signed certificates that
// no trust store accepts. Everything is returned as PEM text; nothing is read from or written to
// disk unless write_files is called.
//
// This is emulator code, not library code: failures throw std::runtime_error carrying OpenSSL's
// own reason strings.

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstddef>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace takeoff::emulator {

/// When a certificate is valid, relative to the moment it is made. The default window is
/// [now - 1 h, now + 24 h]; expired() and not_yet_valid() give windows that every verifier rejects.
struct validity_period {
    std::chrono::seconds not_before_offset{-3600};
    std::chrono::seconds not_after_offset{24 * 3600};

    /// A window that ended a day ago (notAfter is in the past).
    static validity_period expired() { return {std::chrono::seconds{-48 * 3600}, std::chrono::seconds{-24 * 3600}}; }
    /// A window that starts tomorrow (notBefore is in the future).
    static validity_period not_yet_valid() { return {std::chrono::seconds{24 * 3600}, std::chrono::seconds{48 * 3600}}; }
};

/// What a server certificate says about itself. The defaults fit a server on 127.0.0.1 that
/// clients reach as "localhost" or "127.0.0.1".
struct certificate_options {
    std::string common_name = "localhost";
    std::vector<std::string> dns_names{"localhost"};       ///< subjectAltName DNS entries
    std::vector<std::string> ip_addresses{"127.0.0.1"};     ///< subjectAltName IP entries (IPv4 or IPv6 text)
    validity_period validity{};
};

/// Paths written by server_certificate::write_files.
struct certificate_files {
    std::filesystem::path certificate;    ///< the server certificate (PEM)
    std::filesystem::path private_key;    ///< its private key (PEM, PKCS#8, mode 0600)
    std::filesystem::path ca_certificate; ///< the certificate a client must trust (PEM)
};

/// A server certificate, its key and the certificate a client has to trust to accept it: the
/// issuing CA, or for a self-signed certificate the certificate itself.
struct server_certificate {
    std::string certificate_pem;
    std::string private_key_pem;
    std::string ca_certificate_pem;

    /// Writes `<stem>.crt`, `<stem>.key` and `<stem>-ca.crt` into `directory` (created if missing).
    certificate_files write_files(const std::filesystem::path& directory, std::string_view stem = "server") const;
};

namespace detail {

/// Throws std::runtime_error with `what` and every reason on OpenSSL's (thread-local) error queue.
[[noreturn]] inline void throw_openssl_error(std::string_view what)
{
    std::string message = "takeoff-emulator: ";
    message += what;
    bool first = true;
    while (unsigned long code = ::ERR_get_error()) {
        char reason[256];
        ::ERR_error_string_n(code, reason, sizeof reason);
        message += first ? ": " : "; ";
        message += reason;
        first = false;
    }
    if (first)
        message += ": (no OpenSSL reason given)";
    throw std::runtime_error(message);
}

inline void check_openssl(int result, std::string_view what)
{
    if (result <= 0)
        throw_openssl_error(what);
}

template <class T>
T* check_openssl(T* pointer, std::string_view what)
{
    if (pointer == nullptr)
        throw_openssl_error(what);
    return pointer;
}

template <auto Free>
struct openssl_deleter {
    template <class T>
    void operator()(T* pointer) const noexcept { Free(pointer); }
};

using bio_ptr = std::unique_ptr<BIO, openssl_deleter<&::BIO_free_all>>;
using bignum_ptr = std::unique_ptr<BIGNUM, openssl_deleter<&::BN_free>>;
using extension_ptr = std::unique_ptr<X509_EXTENSION, openssl_deleter<&::X509_EXTENSION_free>>;
using general_names_ptr = std::unique_ptr<GENERAL_NAMES, openssl_deleter<&::GENERAL_NAMES_free>>;
using general_name_ptr = std::unique_ptr<GENERAL_NAME, openssl_deleter<&::GENERAL_NAME_free>>;
using ia5_string_ptr = std::unique_ptr<ASN1_IA5STRING, openssl_deleter<&::ASN1_IA5STRING_free>>;
using octet_string_ptr = std::unique_ptr<ASN1_OCTET_STRING, openssl_deleter<&::ASN1_OCTET_STRING_free>>;

// Keys and certificates are shared (immutable once made) so certificate_authority stays copyable.
using shared_key = std::shared_ptr<EVP_PKEY>;
using shared_x509 = std::shared_ptr<X509>;

inline shared_key make_p256_key()
{
    EVP_PKEY* key = ::EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    check_openssl(key, "generating an EC P-256 key");
    return shared_key(key, &::EVP_PKEY_free);
}

inline shared_x509 make_x509()
{
    X509* certificate = check_openssl(::X509_new(), "allocating a certificate");
    return shared_x509(certificate, &::X509_free);
}

inline std::string bio_to_string(BIO* bio)
{
    char* data = nullptr;
    long size = BIO_get_mem_data(bio, &data);
    if (size < 0 || (size > 0 && data == nullptr))
        throw_openssl_error("reading a memory BIO");
    return std::string(data, static_cast<std::size_t>(size));
}

inline bio_ptr make_memory_bio()
{
    return bio_ptr(check_openssl(::BIO_new(::BIO_s_mem()), "allocating a memory BIO"));
}

inline std::string certificate_to_pem(X509* certificate)
{
    bio_ptr bio = make_memory_bio();
    check_openssl(::PEM_write_bio_X509(bio.get(), certificate), "writing a certificate as PEM");
    return bio_to_string(bio.get());
}

inline std::string key_to_pem(EVP_PKEY* key)
{
    bio_ptr bio = make_memory_bio();
    check_openssl(::PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
                  "writing a private key as PEM");
    return bio_to_string(bio.get());
}

// A random positive 127-bit serial number (RFC 5280 allows up to 20 octets).
inline void set_random_serial(X509* certificate)
{
    unsigned char bytes[16];
    check_openssl(::RAND_bytes(bytes, sizeof bytes), "generating a serial number");
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01; // never zero, never negative
    bignum_ptr number(check_openssl(::BN_bin2bn(bytes, sizeof bytes, nullptr), "building a serial number"));
    check_openssl(::BN_to_ASN1_INTEGER(number.get(), ::X509_get_serialNumber(certificate)) != nullptr ? 1 : 0,
                  "setting the serial number");
}

inline void set_validity(X509* certificate, const validity_period& validity)
{
    const auto now = std::chrono::system_clock::now();
    const std::time_t not_before = std::chrono::system_clock::to_time_t(now + validity.not_before_offset);
    const std::time_t not_after = std::chrono::system_clock::to_time_t(now + validity.not_after_offset);
    if (not_after <= not_before)
        throw std::runtime_error("takeoff-emulator: certificate validity ends before it starts");
    check_openssl(::ASN1_TIME_set(::X509_getm_notBefore(certificate), not_before) != nullptr ? 1 : 0,
                  "setting notBefore");
    check_openssl(::ASN1_TIME_set(::X509_getm_notAfter(certificate), not_after) != nullptr ? 1 : 0,
                  "setting notAfter");
}

inline void set_common_name(X509* certificate, const std::string& common_name)
{
    X509_NAME* name = ::X509_get_subject_name(certificate); // owned by the certificate
    check_openssl(::X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                               reinterpret_cast<const unsigned char*>(common_name.c_str()),
                                               static_cast<int>(common_name.size()), -1, 0),
                  "setting the subject common name");
}

// Adds an extension from OpenSSL's configuration syntax. Only fixed strings from this file are
// passed here; user-supplied names go through add_subject_alt_names instead.
inline void add_extension(X509* issuer, X509* subject, int nid, const char* value)
{
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    ::X509V3_set_ctx(&context, issuer, subject, nullptr, nullptr, 0);
    extension_ptr extension(::X509V3_EXT_conf_nid(nullptr, &context, nid, value));
    if (!extension)
        throw_openssl_error(std::string("building the extension ") + ::OBJ_nid2sn(nid) + " = " + value);
    check_openssl(::X509_add_ext(subject, extension.get(), -1), "adding a certificate extension");
}

inline void add_subject_alt_names(X509* certificate, const certificate_options& options)
{
    if (options.dns_names.empty() && options.ip_addresses.empty())
        return;
    general_names_ptr names(check_openssl(::GENERAL_NAMES_new(), "allocating subjectAltName"));
    for (const std::string& dns_name : options.dns_names) {
        if (dns_name.empty())
            throw std::runtime_error("takeoff-emulator: empty DNS name in subjectAltName");
        ia5_string_ptr text(check_openssl(::ASN1_IA5STRING_new(), "allocating a DNS name"));
        check_openssl(::ASN1_STRING_set(text.get(), dns_name.data(), static_cast<int>(dns_name.size())),
                      "setting a DNS name");
        general_name_ptr name(check_openssl(::GENERAL_NAME_new(), "allocating a general name"));
        ::GENERAL_NAME_set0_value(name.get(), GEN_DNS, text.release());
        check_openssl(sk_GENERAL_NAME_push(names.get(), name.get()), "adding a DNS name");
        name.release(); // now owned by the stack
    }
    for (const std::string& address : options.ip_addresses) {
        octet_string_ptr bytes(::a2i_IPADDRESS(address.c_str()));
        if (!bytes) {
            ::ERR_clear_error();
            throw std::runtime_error("takeoff-emulator: '" + address +
                                     "' in subjectAltName is not an IPv4 or IPv6 address");
        }
        general_name_ptr name(check_openssl(::GENERAL_NAME_new(), "allocating a general name"));
        ::GENERAL_NAME_set0_value(name.get(), GEN_IPADD, bytes.release());
        check_openssl(sk_GENERAL_NAME_push(names.get(), name.get()), "adding an IP address");
        name.release();
    }
    // Critical only when the subject is empty (RFC 5280 4.2.1.6); ours always has a CN.
    check_openssl(::X509_add1_ext_i2d(certificate, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT),
                  "adding subjectAltName");
}

inline void sign(X509* certificate, EVP_PKEY* key)
{
    check_openssl(::X509_sign(certificate, key, ::EVP_sha256()), "signing a certificate");
}

// Builds a certificate for `subject_key`. With issuer == nullptr it is self-signed.
inline shared_x509 build_certificate(const std::string& common_name, const validity_period& validity,
                                     EVP_PKEY* subject_key, X509* issuer, EVP_PKEY* issuer_key,
                                     bool is_ca, const certificate_options* server_names)
{
    shared_x509 certificate = make_x509();
    X509* x = certificate.get();
    check_openssl(::X509_set_version(x, X509_VERSION_3), "setting the certificate version");
    set_random_serial(x);
    set_validity(x, validity);
    set_common_name(x, common_name);
    check_openssl(::X509_set_issuer_name(x, ::X509_get_subject_name(issuer ? issuer : x)), "setting the issuer");
    check_openssl(::X509_set_pubkey(x, subject_key), "setting the public key");

    X509* signer_certificate = issuer ? issuer : x;
    if (is_ca) {
        add_extension(signer_certificate, x, NID_basic_constraints, "critical,CA:TRUE");
        add_extension(signer_certificate, x, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    } else {
        add_extension(signer_certificate, x, NID_basic_constraints, "critical,CA:FALSE");
        add_extension(signer_certificate, x, NID_key_usage, "critical,digitalSignature");
    }
    if (server_names) {
        add_extension(signer_certificate, x, NID_ext_key_usage, "serverAuth");
        add_subject_alt_names(x, *server_names);
    }
    add_extension(signer_certificate, x, NID_subject_key_identifier, "hash");
    add_extension(signer_certificate, x, NID_authority_key_identifier, "keyid:always");
    sign(x, issuer_key ? issuer_key : subject_key);
    return certificate;
}

inline void write_text_file(const std::filesystem::path& path, const std::string& text,
                            std::filesystem::perms permissions)
{
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        if (!out)
            throw std::runtime_error("takeoff-emulator: cannot open " + path.string() + " for writing");
        std::filesystem::permissions(path, permissions, std::filesystem::perm_options::replace);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        out.flush();
        if (!out)
            throw std::runtime_error("takeoff-emulator: cannot write " + path.string());
    }
}

} // namespace detail

/// A throw-away certificate authority (EC P-256, SHA-256) that issues server certificates.
/// Copies share the same key and certificate.
class certificate_authority {
public:
    /// Makes a new CA key and self-signed CA certificate.
    explicit certificate_authority(std::string common_name = "takeoff-emulator test CA",
                                   validity_period validity = {std::chrono::seconds{-3600},
                                                               std::chrono::seconds{7 * 24 * 3600}})
        : key_(detail::make_p256_key())
    {
        certificate_ = detail::build_certificate(common_name, validity, key_.get(), nullptr, nullptr,
                                                 /*is_ca=*/true, nullptr);
        certificate_pem_ = detail::certificate_to_pem(certificate_.get());
    }

    /// The CA certificate (what a client puts in its trust store).
    const std::string& certificate_pem() const noexcept { return certificate_pem_; }

    /// Issues a server certificate signed by this CA, with a fresh key.
    server_certificate issue(const certificate_options& options = {}) const
    {
        detail::shared_key key = detail::make_p256_key();
        detail::shared_x509 certificate = detail::build_certificate(
            options.common_name, options.validity, key.get(), certificate_.get(), key_.get(),
            /*is_ca=*/false, &options);
        return {detail::certificate_to_pem(certificate.get()), detail::key_to_pem(key.get()), certificate_pem_};
    }

private:
    detail::shared_key key_;
    detail::shared_x509 certificate_;
    std::string certificate_pem_;
};

/// Makes a self-signed server certificate (issuer = subject): rejected by any client that does
/// not explicitly trust this very certificate. Its ca_certificate_pem is the certificate itself.
inline server_certificate make_self_signed_certificate(const certificate_options& options = {})
{
    detail::shared_key key = detail::make_p256_key();
    // CA:TRUE, like `openssl req -x509`, so a client that chooses to trust it can use it as an anchor.
    detail::shared_x509 certificate = detail::build_certificate(options.common_name, options.validity, key.get(),
                                                                nullptr, nullptr, /*is_ca=*/true, &options);
    std::string pem = detail::certificate_to_pem(certificate.get());
    return {pem, detail::key_to_pem(key.get()), pem};
}

inline certificate_files server_certificate::write_files(const std::filesystem::path& directory,
                                                         std::string_view stem) const
{
    std::filesystem::create_directories(directory);
    const std::string base(stem);
    certificate_files files{directory / (base + ".crt"), directory / (base + ".key"), directory / (base + "-ca.crt")};
    using std::filesystem::perms;
    detail::write_text_file(files.certificate, certificate_pem, perms::owner_read | perms::owner_write | perms::group_read | perms::others_read);
    detail::write_text_file(files.private_key, private_key_pem, perms::owner_read | perms::owner_write);
    detail::write_text_file(files.ca_certificate, ca_certificate_pem, perms::owner_read | perms::owner_write | perms::group_read | perms::others_read);
    return files;
}

} // namespace takeoff::emulator
