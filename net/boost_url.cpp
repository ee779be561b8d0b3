// Boost.URL compiled into the project (its header-only build): Debian's
// libboost-url package is not among the packages the build installs, and
// one translation unit of its sources is all it takes.
#include <boost/url/src.hpp>
