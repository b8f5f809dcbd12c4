package inspect_test

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tlslens/tlslens/inspect"
)

// rfc8448Server is what the server sent in RFC 8448 §3 ("Simple 1-RTT
// Handshake"): the ServerHello record ("{server} send handshake record",
// 95 bytes), then the encrypted EncryptedExtensions, Certificate,
// CertificateVerify and Finished in one record (679 bytes). The RFC omits
// the middlebox-compatibility ChangeCipherSpec.
var rfc8448Server = mustHex(strings.Join([]string{
	"160303005a020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb",
	"1434dac155772ed3e2692800130100002e00330024001d0020c9828876112095",
	"fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b0002030417",
	"030302a2d1ff334a56f5bff6594a07cc87b580233f500f45e489e7f33af35edf",
	"7869fcf40aa40aa2b8ea73f848a7ca07612ef9f945cb960b4068905123ea78b1",
	"11b429ba9191cd05d2a389280f526134aadc7fc78c4b729df828b5ecf7b13bd9",
	"aefb0e57f271585b8ea9bb355c7c79020716cfb9b1183ef3ab20e37d57a6b9d7",
	"477609aee6e122a4cf51427325250c7d0e509289444c9b3a648f1d71035d2ed6",
	"5b0e3cdd0cbae8bf2d0b227812cbb360987255cc744110c453baa4fcd610928d",
	"809810e4b7ed1a8fd991f06aa6248204797e36a6a73b70a2559c09ead686945b",
	"a246ab66e5edd8044b4c6de3fcf2a89441ac66272fd8fb330ef8190579b36845",
	"96c960bd596eea520a56a8d650f563aad27409960dca63d3e688611ea5e22f44",
	"15cf9538d51a200c27034272968a264ed6540c84838d89f72c24461aad6d26f5",
	"9ecaba9acbbb317b66d902f4f292a36ac1b639c637ce343117b659622245317b",
	"49eeda0c6258f100d7d961ffb138647e92ea330faeea6dfa31c7a84dc3bd7e1b",
	"7a6c7178af36879018e3f252107f243d243dc7339d5684c8b0378bf30244da8c",
	"87c843f5e56eb4c5e8280a2b48052cf93b16499a66db7cca71e4599426f7d461",
	"e66f99882bd89fc50800becca62d6c74116dbd2972fda1fa80f85df881edbe5a",
	"37668936b335583b599186dc5c6918a396fa48a181d6b6fa4f9d62d513afbb99",
	"2f2b992f67f8afe67f76913fa388cb5630c8ca01e0c65d11c66a1e2ac4c85977",
	"b7c7a6999bbf10dc35ae69f5515614636c0b9b68c19ed2e31c0b3b66763038eb",
	"ba42f3b38edc0399f3a9f23faa63978c317fc9fa66a73f60f0504de93b5b845e",
	"275592c12335ee340bbc4fddd502784016e4b3be7ef04dda49f4b440a30cb5d2",
	"af939828fd4ae3794e44f94df5a631ede42c1719bfdabf0253fe5175be898e75",
	"0edc53370d2b",
}, ""))

// rfc8448KeyLog is the key log line a client would have written for that
// handshake: its ClientHello random and the RFC's server handshake traffic
// secret.
var rfc8448KeyLog = []byte("SERVER_HANDSHAKE_TRAFFIC_SECRET " +
	"cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7 " +
	"b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38\n")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func ExampleParseServerFlight() {
	// The server's bytes as a recording net.Conn under a tls.Client saw them,
	// and the key log its Config.KeyLogWriter wrote (here: RFC 8448 §3).
	f, err := inspect.ParseServerFlight(rfc8448Server, rfc8448KeyLog)
	if err != nil {
		fmt.Println(err)
		return
	}
	sh := f.ServerHelloRecord()
	fmt.Println(sh.Version, sh.CipherSuite, sh.Group)
	fmt.Println(strings.Join(f.Messages, " "))
	fmt.Println(f.KeyExchange.Kind, f.KeyExchange.SignatureAlgorithm)
	certs, _ := inspect.ParseChain(f.Certificates)
	for _, c := range inspect.Chain(certs) {
		fmt.Println(c.Subject, c.Key, c.Signature)
	}
	// Output:
	// TLS 1.3 TLS_AES_128_GCM_SHA256 x25519
	// server_hello encrypted_extensions certificate certificate_verify finished
	// ECDHE rsa_pss_rsae_sha256
	// CN=rsa RSA 1024 SHA256-RSA
}

// TestParseServerFlightRFC8448 decrypts the RFC 8448 §3 trace: the AEAD tag
// only verifies if the key, IV, nonce and additional data are all right.
func TestParseServerFlightRFC8448(t *testing.T) {
	f, err := inspect.ParseServerFlight(rfc8448Server, rfc8448KeyLog)
	if err != nil {
		t.Fatalf("ParseServerFlight: %v", err)
	}
	want := []string{"server_hello", "encrypted_extensions", "certificate", "certificate_verify", "finished"}
	if !slices.Equal(f.Messages, want) || !f.Decrypted {
		t.Errorf("Messages = %q (decrypted %v), want %q", f.Messages, f.Decrypted, want)
	}
	sh := f.ServerHello
	if sh == nil || sh.Version() != 0x0304 || sh.LegacyVersion != 0x0303 || sh.CipherSuite != 0x1301 || sh.KeyShareGroup != 0x001d || sh.HelloRetry || sh.Downgrade != "" {
		t.Fatalf("ServerHello = %+v", sh)
	}
	// RFC 8448 §3: the ServerHello carries key_share then supported_versions.
	if hash, raw := inspect.JA3S(sh); raw != "771,4865,51-43" || len(hash) != 32 {
		t.Errorf("JA3S = %q, %q", hash, raw)
	}
	if len(f.Certificates) != 1 {
		t.Fatalf("%d certificates, want 1", len(f.Certificates))
	}
	c, err := x509.ParseCertificate(f.Certificates[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := inspect.Certificate(c); got.Subject != "CN=rsa" || got.Issuer != "CN=rsa" || got.Key != "RSA 1024" || got.Serial != "2" {
		t.Errorf("Certificate = %+v", got)
	}
	// EncryptedExtensions has no ALPN; the server signs with rsa_pss_rsae_sha256 (0x0804).
	if f.ALPN != "" || f.KeyExchange == nil || *f.KeyExchange != (inspect.KeyExchange{Kind: "ECDHE", Group: "x25519", SignatureAlgorithm: inspect.SignatureSchemeName(0x0804)}) {
		t.Errorf("ALPN %q, KeyExchange %+v", f.ALPN, f.KeyExchange)
	}

	// One flipped bit anywhere in the encrypted record fails the tag.
	bad := slices.Clone(rfc8448Server)
	bad[len(bad)-100] ^= 1
	f, err = inspect.ParseServerFlight(bad, rfc8448KeyLog)
	var pe *inspect.ParseError
	if !errors.As(err, &pe) || f.ServerHello == nil || f.Decrypted || len(f.Messages) != 1 {
		t.Errorf("tampered: %+v, %v: want the ServerHello and a *ParseError", f, err)
	}
}
