// HTTPClient gets the URL given as its argument with OpenJDK's
// java.net.http.HttpClient, configured as newHttpClient configures it, for
// capture.sh (run as a single-file program: java HTTPClient.java URL).
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

public class HTTPClient {
	public static void main(String[] args) throws Exception {
		HttpRequest req = HttpRequest.newBuilder(URI.create(args[0])).build();
		HttpClient.newHttpClient().send(req, HttpResponse.BodyHandlers.discarding());
	}
}
