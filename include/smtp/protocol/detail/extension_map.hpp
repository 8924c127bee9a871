// smtp/protocol/detail/extension_map.hpp
//
// The typed half of a capability record: a Boost.Hana map from each extension
// type to an optional of its value. Hana stays in here; the public record
// (capabilities.hpp) reaches it through named functions only, so no
// hana::map<...> shows in a user's error message.
#ifndef SMTP_PROTOCOL_DETAIL_EXTENSION_MAP_HPP
#define SMTP_PROTOCOL_DETAIL_EXTENSION_MAP_HPP

#include <smtp/protocol/detail/validate.hpp>
#include <smtp/protocol/extensions.hpp>
#include <smtp/version.hpp>

#include <boost/hana/at_key.hpp>
#include <boost/hana/contains.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/map.hpp>
#include <boost/hana/pair.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>

#include <optional>
#include <string_view>
#include <utility>

SMTP_NAMESPACE_BEGIN
namespace detail {

/// True when E is one of Ext... (hana::contains, evaluated at compile time).
template <class E, class... Ext>
inline constexpr bool contains_type =
    decltype(boost::hana::contains(boost::hana::tuple_t<Ext...>, boost::hana::type_c<E>))::value;

/// True when no two of Ext... share a keyword (case-insensitively).
template <class... Ext>
constexpr bool keywords_distinct() noexcept
{
    constexpr std::string_view k[] = {std::string_view(Ext::keyword)..., std::string_view()};
    for (std::size_t i = 0; i < sizeof...(Ext); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (iequals(k[i], k[j]))
                return false;
    return true;
}

template <extension... Ext>
class extension_map {
    using map_type = boost::hana::map<
        boost::hana::pair<boost::hana::type<Ext>, std::optional<typename Ext::value_type>>...>;

public:
    template <class E>
    const std::optional<typename E::value_type>& get() const noexcept
    {
        return boost::hana::at_key(map_, boost::hana::type_c<E>);
    }

    /// Offers one EHLO keyword and its parameters to the extension types.
    /// Returns true when a type took it.
    bool offer(std::string_view keyword, std::string_view params)
    {
        bool taken = false;
        boost::hana::for_each(boost::hana::tuple_t<Ext...>, [&](auto t) {
            using E = typename decltype(t)::type;
            if (taken || !iequals(E::keyword, keyword))
                return;
            taken = true;
            auto value = E::parse(params);
            if (!value)
                return; // malformed parameters: not claimed as typed support
            auto& slot = boost::hana::at_key(map_, t);
            if constexpr (requires { E::merge(*slot, std::move(*value)); }) {
                if (slot) {
                    E::merge(*slot, std::move(*value));
                    return;
                }
            }
            if (!slot)
                slot = std::move(value);
        });
        return taken;
    }

private:
    map_type map_{};
};

} // namespace detail
SMTP_NAMESPACE_END

#endif
