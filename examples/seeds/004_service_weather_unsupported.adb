// Seed 004: calling an external service. Services are not supported yet:
// advm parses this document and reports E0901 (not-supported-yet).

service weather {
class WeatherRequest {
string city;
}
class WeatherResponse {
double temperature;
}
method<WeatherRequest, WeatherResponse> get;
}
public formula current_weather =
weather.get(@no_cache, {city: "NYC"});
